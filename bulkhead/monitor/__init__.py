"""Monitoring: predictive risk (`risk_model`), the book and feed read from the chain
(`book`), the live dashboard (`server`, `page`, `svg`), and the CLI (`cli`)."""
