-- A phone said START: SMS may go to it again.
DELETE FROM sms_opt_outs WHERE phone = %(phone)s
