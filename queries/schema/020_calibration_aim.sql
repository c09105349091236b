-- name: 020_calibration_aim
-- What each calibration aimed at (issue 17): the budget, less on short history (a margin),
-- moved by how far the organisation's alerts outran or fell short of what calibrations on
-- its own earlier history predicted (monitor/detection/calibrate.py, `_foresight`). NULL
-- for the runs made before it was kept.

ALTER TABLE calibrations ADD COLUMN aimed_at DOUBLE;
