-- The rule that put each delivery row there (NULL for rows from before rules, and
-- for the old service's history), and its kind: a `notice` is sent when the invoice
-- enters review. A constant default and no CHECK: no table rewrite, no scan.
ALTER TABLE notifications
    ADD COLUMN rule_name text,
    ADD COLUMN kind text NOT NULL DEFAULT 'notice';
