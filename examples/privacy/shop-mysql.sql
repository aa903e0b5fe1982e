-- The shop's tables in MySQL 8 / MariaDB 10.6+, as examples/privacy/shop.yaml maps them (dataset
-- `shop`); the same columns as shop-postgres.sql. Run in an empty database:
--   mysql shop < shop-mysql.sql
-- Foreign-key columns are indexed: a data-subject request looks rows up by them.

CREATE TABLE users (
  id               BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email            VARCHAR(254) NOT NULL,
  phone            VARCHAR(32),
  first_name       VARCHAR(100),
  last_name        VARCHAR(100),
  password_hash    TEXT,
  date_of_birth    DATE,
  marketing_opt_in BOOLEAN,
  created_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_active_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY users_email_key (email),
  KEY users_phone_idx (phone),
  KEY users_last_active_at_idx (last_active_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE addresses (
  id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id     BIGINT NOT NULL,
  line1       VARCHAR(200) NOT NULL,
  line2       VARCHAR(200),
  city        VARCHAR(100) NOT NULL,
  state       VARCHAR(100),
  postal_code VARCHAR(20) NOT NULL,
  country     CHAR(2) NOT NULL,
  created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY addresses_user_id_idx (user_id),
  CONSTRAINT addresses_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE orders (
  id                  BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id             BIGINT NOT NULL,
  shipping_address_id BIGINT,
  status              VARCHAR(20) NOT NULL DEFAULT 'placed',
  total_cents         BIGINT NOT NULL,
  currency            CHAR(3) NOT NULL DEFAULT 'INR',
  placed_at           DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY orders_user_id_idx (user_id),
  KEY orders_shipping_address_id_idx (shipping_address_id),
  KEY orders_placed_at_idx (placed_at),
  CONSTRAINT orders_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id),
  CONSTRAINT orders_shipping_address_id_fk FOREIGN KEY (shipping_address_id) REFERENCES addresses (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE order_items (
  id               BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_id         BIGINT NOT NULL,
  product_sku      VARCHAR(64) NOT NULL,
  quantity         INT NOT NULL,
  unit_price_cents BIGINT NOT NULL,
  KEY order_items_order_id_idx (order_id),
  CONSTRAINT order_items_order_id_fk FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE support_tickets (
  id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id    BIGINT,
  email      VARCHAR(254) NOT NULL,
  subject    VARCHAR(200) NOT NULL,
  body       TEXT NOT NULL,
  status     VARCHAR(20) NOT NULL DEFAULT 'open',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  closed_at  DATETIME(3),
  KEY support_tickets_user_id_idx (user_id),
  KEY support_tickets_email_idx (email),
  CONSTRAINT support_tickets_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE sessions (
  id         VARCHAR(64) NOT NULL PRIMARY KEY,
  user_id    BIGINT NOT NULL,
  ip_address VARCHAR(45),
  user_agent VARCHAR(512),
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  expires_at DATETIME(3) NOT NULL,
  KEY sessions_user_id_idx (user_id),
  KEY sessions_created_at_idx (created_at),
  CONSTRAINT sessions_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
