-- A phone said STOP (source 'reply') or Twilio refused it as unsubscribed (error 21610,
-- source 'provider'): no SMS is attempted to it until it says START.
INSERT INTO sms_opt_outs (phone, source) VALUES (%(phone)s, %(source)s)
ON CONFLICT (phone) DO UPDATE SET opted_out_at = now(), source = excluded.source
