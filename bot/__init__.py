"""Answer questions with verbatim, cited quotes from a corpus of news articles."""
