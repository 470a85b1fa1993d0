-- Dimension history (docs/warehouse-loader.md, Dimension history): for every dimension but
-- dim_date, every version the loader receives (cdc_<dimension>_versions, bookkeeping), the
-- history made from them (<dimension>_history, as contracts.star_schema.HISTORIES declares)
-- and, per fact, a view of each fact version with the dimension rows valid at its version
-- (fact_<name>_as_of). The current tables are unchanged. A warehouse loaded before this
-- migration starts each history at the row it holds now.

CREATE TABLE cdc_dim_staff_versions (
    staff_id integer NOT NULL,
    first_name text,
    last_name text,
    department_name text,
    location text,
    email_address text,
    cdc_version numeric(38,0) NOT NULL,
    cdc_joined_version numeric(38,0),
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE UNIQUE INDEX cdc_dim_staff_versions_version ON cdc_dim_staff_versions (staff_id, cdc_version, (coalesce(cdc_joined_version, -1)), cdc_is_inferred);
CREATE TABLE dim_staff_history (
    staff_id integer NOT NULL,
    first_name text,
    last_name text,
    department_name text,
    location text,
    email_address text,
    valid_from timestamp(3),
    valid_to timestamp(3),
    valid_from_version numeric(38,0) NOT NULL,
    valid_to_version numeric(38,0),
    cdc_version numeric(38,0) NOT NULL,
    cdc_joined_version numeric(38,0),
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE INDEX dim_staff_history_interval ON dim_staff_history (staff_id, valid_from_version);
INSERT INTO cdc_dim_staff_versions (staff_id, first_name, last_name, department_name, location, email_address, cdc_version, cdc_joined_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT staff_id, first_name, last_name, department_name, location, email_address, cdc_version, cdc_joined_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation FROM dim_staff;
INSERT INTO dim_staff_history (staff_id, first_name, last_name, department_name, location, email_address, valid_from, valid_to, valid_from_version, valid_to_version, cdc_version, cdc_joined_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT staff_id, first_name, last_name, department_name, location, email_address, cdc_source_updated_at, NULL, greatest(cdc_version, coalesce(cdc_joined_version, 0)), NULL, cdc_version, cdc_joined_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation
    FROM dim_staff;
CREATE TABLE cdc_dim_location_versions (
    location_id integer NOT NULL,
    address_line_1 text,
    address_line_2 text,
    district text,
    city text,
    postal_code text,
    country text,
    phone text,
    cdc_version numeric(38,0) NOT NULL,
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE UNIQUE INDEX cdc_dim_location_versions_version ON cdc_dim_location_versions (location_id, cdc_version, cdc_is_inferred);
CREATE TABLE dim_location_history (
    location_id integer NOT NULL,
    address_line_1 text,
    address_line_2 text,
    district text,
    city text,
    postal_code text,
    country text,
    phone text,
    valid_from timestamp(3),
    valid_to timestamp(3),
    valid_from_version numeric(38,0) NOT NULL,
    valid_to_version numeric(38,0),
    cdc_version numeric(38,0) NOT NULL,
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE INDEX dim_location_history_interval ON dim_location_history (location_id, valid_from_version);
INSERT INTO cdc_dim_location_versions (location_id, address_line_1, address_line_2, district, city, postal_code, country, phone, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT location_id, address_line_1, address_line_2, district, city, postal_code, country, phone, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation FROM dim_location;
INSERT INTO dim_location_history (location_id, address_line_1, address_line_2, district, city, postal_code, country, phone, valid_from, valid_to, valid_from_version, valid_to_version, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT location_id, address_line_1, address_line_2, district, city, postal_code, country, phone, cdc_source_updated_at, NULL, cdc_version, NULL, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation
    FROM dim_location;
CREATE TABLE cdc_dim_currency_versions (
    currency_id integer NOT NULL,
    currency_code text,
    currency_name text,
    cdc_version numeric(38,0) NOT NULL,
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE UNIQUE INDEX cdc_dim_currency_versions_version ON cdc_dim_currency_versions (currency_id, cdc_version, cdc_is_inferred);
CREATE TABLE dim_currency_history (
    currency_id integer NOT NULL,
    currency_code text,
    currency_name text,
    valid_from timestamp(3),
    valid_to timestamp(3),
    valid_from_version numeric(38,0) NOT NULL,
    valid_to_version numeric(38,0),
    cdc_version numeric(38,0) NOT NULL,
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE INDEX dim_currency_history_interval ON dim_currency_history (currency_id, valid_from_version);
INSERT INTO cdc_dim_currency_versions (currency_id, currency_code, currency_name, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT currency_id, currency_code, currency_name, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation FROM dim_currency;
INSERT INTO dim_currency_history (currency_id, currency_code, currency_name, valid_from, valid_to, valid_from_version, valid_to_version, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT currency_id, currency_code, currency_name, cdc_source_updated_at, NULL, cdc_version, NULL, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation
    FROM dim_currency;
CREATE TABLE cdc_dim_design_versions (
    design_id integer NOT NULL,
    design_name text,
    file_location text,
    file_name text,
    cdc_version numeric(38,0) NOT NULL,
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE UNIQUE INDEX cdc_dim_design_versions_version ON cdc_dim_design_versions (design_id, cdc_version, cdc_is_inferred);
CREATE TABLE dim_design_history (
    design_id integer NOT NULL,
    design_name text,
    file_location text,
    file_name text,
    valid_from timestamp(3),
    valid_to timestamp(3),
    valid_from_version numeric(38,0) NOT NULL,
    valid_to_version numeric(38,0),
    cdc_version numeric(38,0) NOT NULL,
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE INDEX dim_design_history_interval ON dim_design_history (design_id, valid_from_version);
INSERT INTO cdc_dim_design_versions (design_id, design_name, file_location, file_name, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT design_id, design_name, file_location, file_name, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation FROM dim_design;
INSERT INTO dim_design_history (design_id, design_name, file_location, file_name, valid_from, valid_to, valid_from_version, valid_to_version, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT design_id, design_name, file_location, file_name, cdc_source_updated_at, NULL, cdc_version, NULL, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation
    FROM dim_design;
CREATE TABLE cdc_dim_counterparty_versions (
    counterparty_id integer NOT NULL,
    counterparty_legal_name text,
    counterparty_legal_address_line_1 text,
    counterparty_legal_address_line_2 text,
    counterparty_legal_district text,
    counterparty_legal_city text,
    counterparty_legal_postal_code text,
    counterparty_legal_country text,
    counterparty_legal_phone_number text,
    cdc_version numeric(38,0) NOT NULL,
    cdc_joined_version numeric(38,0),
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE UNIQUE INDEX cdc_dim_counterparty_versions_version ON cdc_dim_counterparty_versions (counterparty_id, cdc_version, (coalesce(cdc_joined_version, -1)), cdc_is_inferred);
CREATE TABLE dim_counterparty_history (
    counterparty_id integer NOT NULL,
    counterparty_legal_name text,
    counterparty_legal_address_line_1 text,
    counterparty_legal_address_line_2 text,
    counterparty_legal_district text,
    counterparty_legal_city text,
    counterparty_legal_postal_code text,
    counterparty_legal_country text,
    counterparty_legal_phone_number text,
    valid_from timestamp(3),
    valid_to timestamp(3),
    valid_from_version numeric(38,0) NOT NULL,
    valid_to_version numeric(38,0),
    cdc_version numeric(38,0) NOT NULL,
    cdc_joined_version numeric(38,0),
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE INDEX dim_counterparty_history_interval ON dim_counterparty_history (counterparty_id, valid_from_version);
INSERT INTO cdc_dim_counterparty_versions (counterparty_id, counterparty_legal_name, counterparty_legal_address_line_1, counterparty_legal_address_line_2, counterparty_legal_district, counterparty_legal_city, counterparty_legal_postal_code, counterparty_legal_country, counterparty_legal_phone_number, cdc_version, cdc_joined_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT counterparty_id, counterparty_legal_name, counterparty_legal_address_line_1, counterparty_legal_address_line_2, counterparty_legal_district, counterparty_legal_city, counterparty_legal_postal_code, counterparty_legal_country, counterparty_legal_phone_number, cdc_version, cdc_joined_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation FROM dim_counterparty;
INSERT INTO dim_counterparty_history (counterparty_id, counterparty_legal_name, counterparty_legal_address_line_1, counterparty_legal_address_line_2, counterparty_legal_district, counterparty_legal_city, counterparty_legal_postal_code, counterparty_legal_country, counterparty_legal_phone_number, valid_from, valid_to, valid_from_version, valid_to_version, cdc_version, cdc_joined_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT counterparty_id, counterparty_legal_name, counterparty_legal_address_line_1, counterparty_legal_address_line_2, counterparty_legal_district, counterparty_legal_city, counterparty_legal_postal_code, counterparty_legal_country, counterparty_legal_phone_number, cdc_source_updated_at, NULL, greatest(cdc_version, coalesce(cdc_joined_version, 0)), NULL, cdc_version, cdc_joined_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation
    FROM dim_counterparty;
CREATE TABLE cdc_dim_payment_type_versions (
    payment_type_id integer NOT NULL,
    payment_type_name text,
    cdc_version numeric(38,0) NOT NULL,
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE UNIQUE INDEX cdc_dim_payment_type_versions_version ON cdc_dim_payment_type_versions (payment_type_id, cdc_version, cdc_is_inferred);
CREATE TABLE dim_payment_type_history (
    payment_type_id integer NOT NULL,
    payment_type_name text,
    valid_from timestamp(3),
    valid_to timestamp(3),
    valid_from_version numeric(38,0) NOT NULL,
    valid_to_version numeric(38,0),
    cdc_version numeric(38,0) NOT NULL,
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE INDEX dim_payment_type_history_interval ON dim_payment_type_history (payment_type_id, valid_from_version);
INSERT INTO cdc_dim_payment_type_versions (payment_type_id, payment_type_name, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT payment_type_id, payment_type_name, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation FROM dim_payment_type;
INSERT INTO dim_payment_type_history (payment_type_id, payment_type_name, valid_from, valid_to, valid_from_version, valid_to_version, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT payment_type_id, payment_type_name, cdc_source_updated_at, NULL, cdc_version, NULL, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation
    FROM dim_payment_type;
CREATE TABLE cdc_dim_transaction_versions (
    transaction_id integer NOT NULL,
    transaction_type text,
    sales_order_id integer,
    purchase_order_id integer,
    cdc_version numeric(38,0) NOT NULL,
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE UNIQUE INDEX cdc_dim_transaction_versions_version ON cdc_dim_transaction_versions (transaction_id, cdc_version, cdc_is_inferred);
CREATE TABLE dim_transaction_history (
    transaction_id integer NOT NULL,
    transaction_type text,
    sales_order_id integer,
    purchase_order_id integer,
    valid_from timestamp(3),
    valid_to timestamp(3),
    valid_from_version numeric(38,0) NOT NULL,
    valid_to_version numeric(38,0),
    cdc_version numeric(38,0) NOT NULL,
    cdc_is_deleted boolean NOT NULL,
    cdc_is_inferred boolean NOT NULL,
    cdc_source_updated_at timestamp(3),
    cdc_generation integer NOT NULL
);
CREATE INDEX dim_transaction_history_interval ON dim_transaction_history (transaction_id, valid_from_version);
INSERT INTO cdc_dim_transaction_versions (transaction_id, transaction_type, sales_order_id, purchase_order_id, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT transaction_id, transaction_type, sales_order_id, purchase_order_id, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation FROM dim_transaction;
INSERT INTO dim_transaction_history (transaction_id, transaction_type, sales_order_id, purchase_order_id, valid_from, valid_to, valid_from_version, valid_to_version, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation)
    SELECT transaction_id, transaction_type, sales_order_id, purchase_order_id, cdc_source_updated_at, NULL, cdc_version, NULL, cdc_version, cdc_is_deleted, cdc_is_inferred, cdc_source_updated_at, cdc_generation
    FROM dim_transaction;
CREATE VIEW fact_sales_order_as_of AS SELECT
    f.*,
    "staff".first_name AS staff_first_name,
    "staff".last_name AS staff_last_name,
    "staff".department_name AS staff_department_name,
    "staff".location AS staff_location,
    "staff".email_address AS staff_email_address,
    "counterparty".counterparty_legal_name AS counterparty_legal_name,
    "counterparty".counterparty_legal_address_line_1 AS counterparty_legal_address_line_1,
    "counterparty".counterparty_legal_address_line_2 AS counterparty_legal_address_line_2,
    "counterparty".counterparty_legal_district AS counterparty_legal_district,
    "counterparty".counterparty_legal_city AS counterparty_legal_city,
    "counterparty".counterparty_legal_postal_code AS counterparty_legal_postal_code,
    "counterparty".counterparty_legal_country AS counterparty_legal_country,
    "counterparty".counterparty_legal_phone_number AS counterparty_legal_phone_number,
    "currency".currency_code AS currency_code,
    "currency".currency_name AS currency_name,
    "design".design_name AS design_name,
    "design".file_location AS design_file_location,
    "design".file_name AS design_file_name,
    "location".address_line_1 AS location_address_line_1,
    "location".address_line_2 AS location_address_line_2,
    "location".district AS location_district,
    "location".city AS location_city,
    "location".postal_code AS location_postal_code,
    "location".country AS location_country,
    "location".phone AS location_phone
FROM fact_sales_order AS f
LEFT JOIN dim_staff_history AS "staff"
    ON "staff".staff_id = f.sales_staff_id
    AND "staff".valid_from_version <= f.cdc_version
    AND ("staff".valid_to_version IS NULL OR f.cdc_version < "staff".valid_to_version)
LEFT JOIN dim_counterparty_history AS "counterparty"
    ON "counterparty".counterparty_id = f.counterparty_id
    AND "counterparty".valid_from_version <= f.cdc_version
    AND ("counterparty".valid_to_version IS NULL OR f.cdc_version < "counterparty".valid_to_version)
LEFT JOIN dim_currency_history AS "currency"
    ON "currency".currency_id = f.currency_id
    AND "currency".valid_from_version <= f.cdc_version
    AND ("currency".valid_to_version IS NULL OR f.cdc_version < "currency".valid_to_version)
LEFT JOIN dim_design_history AS "design"
    ON "design".design_id = f.design_id
    AND "design".valid_from_version <= f.cdc_version
    AND ("design".valid_to_version IS NULL OR f.cdc_version < "design".valid_to_version)
LEFT JOIN dim_location_history AS "location"
    ON "location".location_id = f.agreed_delivery_location_id
    AND "location".valid_from_version <= f.cdc_version
    AND ("location".valid_to_version IS NULL OR f.cdc_version < "location".valid_to_version);
CREATE VIEW fact_purchase_order_as_of AS SELECT
    f.*,
    "staff".first_name AS staff_first_name,
    "staff".last_name AS staff_last_name,
    "staff".department_name AS staff_department_name,
    "staff".location AS staff_location,
    "staff".email_address AS staff_email_address,
    "counterparty".counterparty_legal_name AS counterparty_legal_name,
    "counterparty".counterparty_legal_address_line_1 AS counterparty_legal_address_line_1,
    "counterparty".counterparty_legal_address_line_2 AS counterparty_legal_address_line_2,
    "counterparty".counterparty_legal_district AS counterparty_legal_district,
    "counterparty".counterparty_legal_city AS counterparty_legal_city,
    "counterparty".counterparty_legal_postal_code AS counterparty_legal_postal_code,
    "counterparty".counterparty_legal_country AS counterparty_legal_country,
    "counterparty".counterparty_legal_phone_number AS counterparty_legal_phone_number,
    "currency".currency_code AS currency_code,
    "currency".currency_name AS currency_name,
    "location".address_line_1 AS location_address_line_1,
    "location".address_line_2 AS location_address_line_2,
    "location".district AS location_district,
    "location".city AS location_city,
    "location".postal_code AS location_postal_code,
    "location".country AS location_country,
    "location".phone AS location_phone
FROM fact_purchase_order AS f
LEFT JOIN dim_staff_history AS "staff"
    ON "staff".staff_id = f.staff_id
    AND "staff".valid_from_version <= f.cdc_version
    AND ("staff".valid_to_version IS NULL OR f.cdc_version < "staff".valid_to_version)
LEFT JOIN dim_counterparty_history AS "counterparty"
    ON "counterparty".counterparty_id = f.counterparty_id
    AND "counterparty".valid_from_version <= f.cdc_version
    AND ("counterparty".valid_to_version IS NULL OR f.cdc_version < "counterparty".valid_to_version)
LEFT JOIN dim_currency_history AS "currency"
    ON "currency".currency_id = f.currency_id
    AND "currency".valid_from_version <= f.cdc_version
    AND ("currency".valid_to_version IS NULL OR f.cdc_version < "currency".valid_to_version)
LEFT JOIN dim_location_history AS "location"
    ON "location".location_id = f.agreed_delivery_location_id
    AND "location".valid_from_version <= f.cdc_version
    AND ("location".valid_to_version IS NULL OR f.cdc_version < "location".valid_to_version);
CREATE VIEW fact_payment_as_of AS SELECT
    f.*,
    "transaction".transaction_type AS transaction_type,
    "transaction".sales_order_id AS transaction_sales_order_id,
    "transaction".purchase_order_id AS transaction_purchase_order_id,
    "counterparty".counterparty_legal_name AS counterparty_legal_name,
    "counterparty".counterparty_legal_address_line_1 AS counterparty_legal_address_line_1,
    "counterparty".counterparty_legal_address_line_2 AS counterparty_legal_address_line_2,
    "counterparty".counterparty_legal_district AS counterparty_legal_district,
    "counterparty".counterparty_legal_city AS counterparty_legal_city,
    "counterparty".counterparty_legal_postal_code AS counterparty_legal_postal_code,
    "counterparty".counterparty_legal_country AS counterparty_legal_country,
    "counterparty".counterparty_legal_phone_number AS counterparty_legal_phone_number,
    "currency".currency_code AS currency_code,
    "currency".currency_name AS currency_name,
    "payment_type".payment_type_name AS payment_type_name
FROM fact_payment AS f
LEFT JOIN dim_transaction_history AS "transaction"
    ON "transaction".transaction_id = f.transaction_id
    AND "transaction".valid_from_version <= f.cdc_version
    AND ("transaction".valid_to_version IS NULL OR f.cdc_version < "transaction".valid_to_version)
LEFT JOIN dim_counterparty_history AS "counterparty"
    ON "counterparty".counterparty_id = f.counterparty_id
    AND "counterparty".valid_from_version <= f.cdc_version
    AND ("counterparty".valid_to_version IS NULL OR f.cdc_version < "counterparty".valid_to_version)
LEFT JOIN dim_currency_history AS "currency"
    ON "currency".currency_id = f.currency_id
    AND "currency".valid_from_version <= f.cdc_version
    AND ("currency".valid_to_version IS NULL OR f.cdc_version < "currency".valid_to_version)
LEFT JOIN dim_payment_type_history AS "payment_type"
    ON "payment_type".payment_type_id = f.payment_type_id
    AND "payment_type".valid_from_version <= f.cdc_version
    AND ("payment_type".valid_to_version IS NULL OR f.cdc_version < "payment_type".valid_to_version);
