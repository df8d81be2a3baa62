DROP TRIGGER IF EXISTS reactor_invoices_inserted ON invoices;
DROP TRIGGER IF EXISTS reactor_invoices_updated ON invoices;
DROP FUNCTION IF EXISTS reactor_invoice_entered_review();
