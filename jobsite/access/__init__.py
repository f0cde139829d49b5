"""Access control: API tokens, authentication, the privilege table, the failed-login limit, the audit log,
and the console's login, logout, tokens and audit pages."""
