-- Version 15: details the standard certificate forms print (issue #14 §4). Every column
-- is nullable: data from before, and linkage batches that do not send them, stay valid.

-- 罹災証明書 of a flood: 浸水区分 (床上浸水 / 床下浸水) and the depth above ground in cm.
ALTER TABLE damage_assessments ADD COLUMN flood_level TEXT
    CHECK (flood_level IS NULL OR flood_level IN ('床上浸水', '床下浸水'));
ALTER TABLE damage_assessments ADD COLUMN flood_depth_cm INTEGER
    CHECK (flood_depth_cm IS NULL OR flood_depth_cm BETWEEN 0 AND 2000);

-- 所得・課税証明書: 扶養人数 and the parts of 所得控除 (optional columns of taxes.csv).
ALTER TABLE taxes ADD COLUMN dependents INTEGER CHECK (dependents IS NULL OR dependents >= 0);
ALTER TABLE taxes ADD COLUMN basic_deduction INTEGER CHECK (basic_deduction IS NULL OR basic_deduction >= 0);
ALTER TABLE taxes ADD COLUMN social_insurance_deduction INTEGER
    CHECK (social_insurance_deduction IS NULL OR social_insurance_deduction >= 0);
ALTER TABLE taxes ADD COLUMN dependent_deduction INTEGER
    CHECK (dependent_deduction IS NULL OR dependent_deduction >= 0);
