"""Adding articles to the corpus: web pages, saved HTML, PDFs and RSS/Atom feeds become corpus
files (`python -m bot add`, and feeds the running bot follows).

This folder only writes article files in the format `bot.corpus.articles` reads; it never
imports the Telegram edge, and the corpus never imports it. Its libraries (trafilatura,
pdfminer.six, feedparser...) are the optional extra `ingest`: `bot.ingest.extra` checks for
them without importing them, so the bot's own start-up never pays for them.
"""
