"""Reports: Markdown/HTML with the paper's tables and figures, from score tables only."""
