DROP TABLE eod_verified;
