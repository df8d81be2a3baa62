DROP COLLATION IF EXISTS reactor_case_fold;
