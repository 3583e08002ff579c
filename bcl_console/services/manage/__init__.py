"""manage: management terminals (管理端末), each bound to one municipality, and what they may do."""
