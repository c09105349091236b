-- name: 015_calibration
-- What `monitor calibrate` chose (issue 17): each run's history and alert budget, and per
-- detector the one setting its SQL header lets calibration choose (`-- calibrate:`), the
-- value chosen, on which rung of its ladder, why (`basis`), and the honest alerts a month
-- that replaying the organisation's history with it raised. The scan uses the latest run's
-- values; a value set in config.toml wins over them. Every run is kept: which thresholds
-- judged a past scan can be read back.

CREATE SEQUENCE calibration_seq START 1;

CREATE TABLE calibrations (
    calibration_id   BIGINT PRIMARY KEY DEFAULT nextval('calibration_seq'),
    calibrated_at    TIMESTAMP NOT NULL,
    calibrated_by    VARCHAR NOT NULL,
    history_from     DATE,                   -- the organisation's first and last charge
    history_to       DATE,
    replay_from      DATE,                   -- alerts are counted from here; earlier warms up
    months           DOUBLE,                 -- of the replay
    budget           DOUBLE NOT NULL,        -- honest alerts a month the team will read
    per_month        DOUBLE,                 -- what the chosen settings raised on the replay
    calibrated       BOOLEAN NOT NULL,       -- false: too little history, defaults kept
    note             VARCHAR NOT NULL
);

CREATE TABLE calibrated_params (
    calibration_id   BIGINT NOT NULL,
    detector         VARCHAR NOT NULL,
    param            VARCHAR,                -- NULL: the detector has nothing calibration sets
    value            VARCHAR,                -- as text; typed by the detector's header
    rung             INTEGER,                -- 0 = most sensitive
    rungs            INTEGER,
    basis            VARCHAR NOT NULL,       -- why this value
    per_month        DOUBLE NOT NULL,        -- honest alerts a month on the replay with it
    curve            DOUBLE[] NOT NULL       -- ... with each rung's value: the trade-off
);

-- One alert per theft (monitor/detection/fold.py): the other detectors' reasons about the
-- same charges, "detector: sentence", strongest first, kept with the alert they joined.
ALTER TABLE alerts ADD COLUMN other_reasons VARCHAR[];
