"""Code-related text (paper 2): the fastText classifier shared by web-page and GitHub text-file recall."""
