-- multinic-agent: the controller's schema, as the agent reads it.
-- The agent never runs this file; it is here for tests, the demo and operators.
-- idx_node makes the agent's per-node read an index lookup.
CREATE TABLE IF NOT EXISTS multi_subnet (
  subnet_id VARCHAR(36) PRIMARY KEY,
  cidr      VARCHAR(43)
);

CREATE TABLE IF NOT EXISTS multi_interface (
  id INT PRIMARY KEY AUTO_INCREMENT,
  port_id VARCHAR(36) NOT NULL,
  subnet_id VARCHAR(36) NOT NULL,
  macaddress VARCHAR(17) NOT NULL,
  attached_node_name VARCHAR(255),
  netplan_success TINYINT(1) DEFAULT 0,
  address VARCHAR(39),
  mtu INT DEFAULT 1500,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  modified_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  deleted_at TIMESTAMP NULL,
  KEY idx_node (attached_node_name)
);
