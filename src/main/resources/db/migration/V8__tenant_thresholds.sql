-- A tenant's own reputation thresholds, on top of the global settings: a JSON object with any of
-- complaintRateWarning, complaintRateCritical, bounceRateWarning, bounceRateCritical (rates, 0.003 = 0.3 %) and
-- minVolume; NULL: the global settings alone. Checked by the admin API (Reputation.Thresholds.checkOverride).
ALTER TABLE tenants ADD COLUMN reputation_thresholds jsonb;
