-- One database per service (DESIGN §1); run once by the postgres image on first start.
CREATE DATABASE approval;
CREATE DATABASE accounting;
CREATE DATABASE reimbursement;
CREATE DATABASE notification;
CREATE DATABASE audit;
