-- The demo's sample schema: customers with PII, and their orders.
CREATE TABLE customers (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    ssn         text,
    card_number text,
    phone       text,
    note        text
);
CREATE TABLE orders (
    id          serial PRIMARY KEY,
    customer_id int REFERENCES customers(id),
    amount      numeric(10, 2) NOT NULL,
    placed_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers (name, email, ssn, card_number, phone, note) VALUES
    ('Ada Lovelace',   'ada@example.com',     '123-45-6789', '4111 1111 1111 1111', '+1 415 555 0100', 'prefers email'),
    ('Alan Turing',    'alan@example.org',    '234-56-7890', '5500 0000 0000 0004', '+1 212 555 0199', 'call +1 212 555 0199 after 5pm'),
    ('Grace Hopper',   'grace@example.net',   '345-67-8901', '3400 0000 0000 009',  '+1 650 555 0142', 'VIP'),
    ('Edsger Dijkstra','edsger@example.com',  '456-78-9012', '6011 0000 0000 0004', '+1 512 555 0123', 'backup contact e.dijkstra@example.com');
INSERT INTO orders (customer_id, amount)
SELECT 1 + (g % 4), (g * 7 % 500) + 0.99 FROM generate_series(1, 40) AS g;
