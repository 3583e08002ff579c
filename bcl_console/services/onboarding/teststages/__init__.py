"""The test stages (試験), run for real against the centre's own services.

- linkage: the newest batch the municipality sent with its linkage token (over HTTP) is
  checked against the intermediate DB: its backup decrypts, every file's checksum
  matches the manifest, the record counts match, and sampled residents match field by field.
- stage1: not required for BCL-hosted municipalities (recorded as such); for own-server
  ones the own server must answer for each test resident.
- stage2: every certificate type offered is issued through the relay, in the
  pseudo-evaluation environment (channel test-stage-2, never billed), and verifies.
- stage3: per registered kiosk operator, a test issuance as that operator (channel
  test-stage-3); passes when an operator confirms the documents' content.
- operation: a failure drill — the relay must refuse (503) while it runs and serve again
  after; the municipality's procedure checklist must be ticked.
- real-store: a real issuance at a store (channel real-store-test), paid and settled.

Every run is recorded with its evidence and log; a passed stage ticks its plan step.
``STAGES`` names the function that runs each stage; ``TestStageService`` runs them.
"""

from bcl_console.services.onboarding.teststages.kit import StageFailed
from bcl_console.services.onboarding.teststages.registry import STAGES
from bcl_console.services.onboarding.teststages.service import TestStageService

__all__ = ["STAGES", "StageFailed", "TestStageService"]
