"""Reports from the database: loaders (SQL -> DataFrames), builders (the `reports` rules
applied to a period), kept runs, the schedule, and the JSON / CSV / XLSX / HTML / PDF exports.

See README.md in this folder for the commands, routes and the stable JSON.
"""
