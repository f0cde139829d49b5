"""Operations a job is made of: the built-in ones and, later, those loaded from asset bundles."""
