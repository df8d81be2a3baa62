-- Vendor globs match without regard to case for every letter, not only A-Z.
--
-- ILIKE and lower() follow the database's LC_CTYPE: in a database made with the C
-- locale (the embedded server's, and many managed ones) they fold A-Z only, so a rule
-- `vendor = ["ümlaut*"]` never matched "Ümlaut AG" (found by the differential test of
-- the intake statement against policy/matching.py). This collation folds case by
-- Unicode's rules: ICU's root locale where the server has ICU, else libc's C.UTF-8,
-- else the database's own LC_CTYPE (as before).
DO $$
BEGIN
    BEGIN
        CREATE COLLATION reactor_case_fold (provider = icu, locale = 'und');
    EXCEPTION WHEN OTHERS THEN
        BEGIN
            CREATE COLLATION reactor_case_fold (provider = libc, locale = 'C.UTF-8');
        EXCEPTION WHEN OTHERS THEN
            EXECUTE format('CREATE COLLATION reactor_case_fold (provider = libc, locale = %L)',
                           (SELECT datctype FROM pg_database WHERE datname = current_database()));
        END;
    END;
END
$$;
