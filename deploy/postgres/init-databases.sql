-- One database per service (docs/adr/0005-database-per-service.md); run once by the postgres image on first start.
CREATE DATABASE approval;
CREATE DATABASE accounting;
CREATE DATABASE reimbursement;
CREATE DATABASE notification;
CREATE DATABASE audit;
CREATE DATABASE webhooks;
