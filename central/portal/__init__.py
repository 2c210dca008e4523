"""The public results portal: pages a citizen, a journalist or an observer opens (issue 13, scope 4).

Server-rendered (Starlette + Jinja2, as the station screens), in Kyrgyz, Russian
and English, with very little script, small enough for a phone on a poor link:

- ``app``: the routes (``portal_routes(ctx)``, mounted by the central API server);
- ``views``: every read of the data (central.aggregate and the storage), in one
  module, so that the pages never scan the receipts per request;
- ``charts``: the bar and hourly charts as inline SVG drawn by the server;
- ``pdf``: a station's protocol as an A4 PDF (Pillow and DejaVu Sans);
- ``bulk``: ``/downloads/all.json``, every station's export signed by the centre;
- ``words``: every word the pages say, in the three languages.

Nothing on the portal carries a PIN: the pages read aggregates and protocols,
and the downloads hold only the count stream's envelopes.
"""
