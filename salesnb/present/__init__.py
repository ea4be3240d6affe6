"""What notebooks and reports show: pages (the figures a notebook page
assembles; one module a page: segments, rep_page, team_page, analysis_pages,
with page_text), charts (what a chart says: rep_charts, analyst_charts, in
chart_style), drawing (how charts are drawn fast), html (escaped HTML
fragments), widgets (the segment explorer) and render (executed notebook to
self-contained HTML, with its templates)."""
