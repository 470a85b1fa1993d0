-- The star schema (docs/architecture.md, Contract B): 8 dimensions, 3 facts.
--
-- Business columns are exactly those of the design; every bookkeeping column starts with
-- "cdc_" so analysts can tell them apart at a glance:
--   cdc_version          numeric(38,0)  orders the captured changes of one source row (derived
--                                       from the source commit position); never decreases
--   cdc_joined_version   numeric(38,0)  joined dimensions only: the version of the joined side
--                                       (department for dim_staff, address for dim_counterparty)
--   cdc_is_deleted       boolean        the source row was deleted (dimension rows are kept and
--                                       flagged; a fact's delete is its final version)
--   cdc_is_inferred      boolean        dimensions only: a placeholder made because a fact
--                                       arrived before its dimension row; the real row replaces it
--   cdc_operation        text           facts only: load / insert / update / delete
--   cdc_source_updated_at timestamp(3)  the source row's last_updated (freshness)
--   cdc_loaded_at        timestamptz    when the loader wrote this version
--
-- Dimension attribute columns are nullable because an inferred member knows only its key;
-- fact measure columns are nullable because a delete version may carry only the key.
-- Foreign keys are DEFERRABLE so one load transaction may write facts and dimensions in any
-- order. Plain SQL types only (Redshift-compatible where it costs nothing).

CREATE TABLE dim_date (
    date_id      date PRIMARY KEY,
    year         integer NOT NULL,
    month        integer NOT NULL CHECK (month BETWEEN 1 AND 12),
    day          integer NOT NULL CHECK (day BETWEEN 1 AND 31),
    day_of_week  integer NOT NULL CHECK (day_of_week BETWEEN 1 AND 7),  -- ISO 8601: Monday = 1
    day_name     varchar(10) NOT NULL,
    month_name   varchar(10) NOT NULL,
    quarter      integer NOT NULL CHECK (quarter BETWEEN 1 AND 4)
);

CREATE TABLE dim_staff (
    staff_id               integer PRIMARY KEY,
    first_name             text,
    last_name              text,
    department_name        text,
    location               text,
    email_address          text,
    cdc_version            numeric(38, 0) NOT NULL,
    cdc_joined_version     numeric(38, 0),
    cdc_is_deleted         boolean NOT NULL DEFAULT false,
    cdc_is_inferred        boolean NOT NULL DEFAULT false,
    cdc_source_updated_at  timestamp(3),
    cdc_loaded_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dim_location (
    location_id            integer PRIMARY KEY,
    address_line_1         text,
    address_line_2         text,
    district               text,
    city                   text,
    postal_code            text,
    country                text,
    phone                  text,
    cdc_version            numeric(38, 0) NOT NULL,
    cdc_is_deleted         boolean NOT NULL DEFAULT false,
    cdc_is_inferred        boolean NOT NULL DEFAULT false,
    cdc_source_updated_at  timestamp(3),
    cdc_loaded_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dim_currency (
    currency_id            integer PRIMARY KEY,
    currency_code          varchar(3),
    currency_name          text,
    cdc_version            numeric(38, 0) NOT NULL,
    cdc_is_deleted         boolean NOT NULL DEFAULT false,
    cdc_is_inferred        boolean NOT NULL DEFAULT false,
    cdc_source_updated_at  timestamp(3),
    cdc_loaded_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dim_design (
    design_id              integer PRIMARY KEY,
    design_name            text,
    file_location          text,
    file_name              text,
    cdc_version            numeric(38, 0) NOT NULL,
    cdc_is_deleted         boolean NOT NULL DEFAULT false,
    cdc_is_inferred        boolean NOT NULL DEFAULT false,
    cdc_source_updated_at  timestamp(3),
    cdc_loaded_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dim_counterparty (
    counterparty_id                    integer PRIMARY KEY,
    counterparty_legal_name            text,
    counterparty_legal_address_line_1  text,
    counterparty_legal_address_line_2  text,
    counterparty_legal_district        text,
    counterparty_legal_city            text,
    counterparty_legal_postal_code     text,
    counterparty_legal_country         text,
    counterparty_legal_phone_number    text,
    cdc_version                        numeric(38, 0) NOT NULL,
    cdc_joined_version                 numeric(38, 0),
    cdc_is_deleted                     boolean NOT NULL DEFAULT false,
    cdc_is_inferred                    boolean NOT NULL DEFAULT false,
    cdc_source_updated_at              timestamp(3),
    cdc_loaded_at                      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dim_payment_type (
    payment_type_id        integer PRIMARY KEY,
    payment_type_name      text,
    cdc_version            numeric(38, 0) NOT NULL,
    cdc_is_deleted         boolean NOT NULL DEFAULT false,
    cdc_is_inferred        boolean NOT NULL DEFAULT false,
    cdc_source_updated_at  timestamp(3),
    cdc_loaded_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dim_transaction (
    transaction_id         integer PRIMARY KEY,
    transaction_type       text,
    sales_order_id         integer,
    purchase_order_id      integer,
    cdc_version            numeric(38, 0) NOT NULL,
    cdc_is_deleted         boolean NOT NULL DEFAULT false,
    cdc_is_inferred        boolean NOT NULL DEFAULT false,
    cdc_source_updated_at  timestamp(3),
    cdc_loaded_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fact_sales_order (
    sales_record_id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    sales_order_id               integer NOT NULL,
    created_date                 date REFERENCES dim_date DEFERRABLE,
    created_time                 time(3),
    last_updated_date            date REFERENCES dim_date DEFERRABLE,
    last_updated_time            time(3),
    sales_staff_id               integer REFERENCES dim_staff DEFERRABLE,
    counterparty_id              integer REFERENCES dim_counterparty DEFERRABLE,
    units_sold                   integer,
    unit_price                   numeric(10, 2),
    currency_id                  integer REFERENCES dim_currency DEFERRABLE,
    design_id                    integer REFERENCES dim_design DEFERRABLE,
    agreed_payment_date          date REFERENCES dim_date DEFERRABLE,
    agreed_delivery_date         date REFERENCES dim_date DEFERRABLE,
    agreed_delivery_location_id  integer REFERENCES dim_location DEFERRABLE,
    cdc_version                  numeric(38, 0) NOT NULL,
    cdc_operation                text NOT NULL CHECK (cdc_operation IN ('load', 'insert', 'update', 'delete')),
    cdc_is_deleted               boolean NOT NULL DEFAULT false,
    cdc_source_updated_at        timestamp(3),
    cdc_loaded_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sales_order_id, cdc_version)
);

CREATE TABLE fact_purchase_order (
    purchase_record_id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    purchase_order_id            integer NOT NULL,
    created_date                 date REFERENCES dim_date DEFERRABLE,
    created_time                 time(3),
    last_updated_date            date REFERENCES dim_date DEFERRABLE,
    last_updated_time            time(3),
    staff_id                     integer REFERENCES dim_staff DEFERRABLE,
    counterparty_id              integer REFERENCES dim_counterparty DEFERRABLE,
    item_code                    text,
    item_quantity                integer,
    item_unit_price              numeric(10, 2),
    currency_id                  integer REFERENCES dim_currency DEFERRABLE,
    agreed_delivery_date         date REFERENCES dim_date DEFERRABLE,
    agreed_payment_date          date REFERENCES dim_date DEFERRABLE,
    agreed_delivery_location_id  integer REFERENCES dim_location DEFERRABLE,
    cdc_version                  numeric(38, 0) NOT NULL,
    cdc_operation                text NOT NULL CHECK (cdc_operation IN ('load', 'insert', 'update', 'delete')),
    cdc_is_deleted               boolean NOT NULL DEFAULT false,
    cdc_source_updated_at        timestamp(3),
    cdc_loaded_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (purchase_order_id, cdc_version)
);

CREATE TABLE fact_payment (
    payment_record_id      bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    payment_id             integer NOT NULL,
    created_date           date REFERENCES dim_date DEFERRABLE,
    created_time           time(3),
    last_updated_date      date REFERENCES dim_date DEFERRABLE,
    last_updated_time      time(3),
    transaction_id         integer REFERENCES dim_transaction DEFERRABLE,
    counterparty_id        integer REFERENCES dim_counterparty DEFERRABLE,
    payment_amount         numeric(10, 2),
    currency_id            integer REFERENCES dim_currency DEFERRABLE,
    payment_type_id        integer REFERENCES dim_payment_type DEFERRABLE,
    paid                   boolean,
    payment_date           date REFERENCES dim_date DEFERRABLE,
    cdc_version            numeric(38, 0) NOT NULL,
    cdc_operation          text NOT NULL CHECK (cdc_operation IN ('load', 'insert', 'update', 'delete')),
    cdc_is_deleted         boolean NOT NULL DEFAULT false,
    cdc_source_updated_at  timestamp(3),
    cdc_loaded_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (payment_id, cdc_version)
);
