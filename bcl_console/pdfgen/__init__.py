"""PDF generation (fpdf2): certificates, statements, the anti-forgery side, fonts."""
