COPY (SELECT id, t, NULL::text AS n FROM copy_t ORDER BY id) TO STDOUT (FORMAT binary)
