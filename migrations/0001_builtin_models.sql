-- The built-in models: a party is its own party; a sale names its party in the `party` field.
INSERT INTO models (name, party_field, created_at) VALUES ('party', NULL, 0), ('sale', 'party', 0);
