-- name: 009_wide_exposure
-- Money at risk (a sum of charges) is stored as DECIMAL(38,2), not the DECIMAL(18,2) of one
-- charge: two charges near the largest amount a row can hold add up to more than that type
-- holds, and the cast back failed every scan from then on (issue 14, item 3).

ALTER TABLE findings ALTER COLUMN exposure TYPE DECIMAL(38,2);
ALTER TABLE findings ALTER COLUMN escalations
    TYPE STRUCT(severity VARCHAR, "at" DATE, exposure DECIMAL(38,2))[];
ALTER TABLE alerts ALTER COLUMN exposure TYPE DECIMAL(38,2);
ALTER TABLE notifications ALTER COLUMN exposure TYPE DECIMAL(38,2);
