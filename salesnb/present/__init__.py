"""What notebooks and reports show: pages (the figures a notebook page
assembles), charts (what a chart says), drawing (how charts are drawn
fast), html (escaped HTML fragments), widgets (the segment explorer) and
render (executed notebook to self-contained HTML, with its templates)."""
