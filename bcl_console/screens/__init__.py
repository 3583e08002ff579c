"""The console's screens, one module per area."""

from bcl_console.screens.centres import CentresScreen
from bcl_console.screens.dashboard import DashboardScreen
from bcl_console.screens.disaster import DisasterScreen
from bcl_console.screens.layouts import LayoutsScreen
from bcl_console.screens.linkage import LinkageScreen
from bcl_console.screens.monitor import MonitorScreen
from bcl_console.screens.municipalities import MunicipalitiesScreen
from bcl_console.screens.onboarding import OnboardingScreen
from bcl_console.screens.settlement import SettlementScreen
from bcl_console.screens.teststages import StagesScreen

__all__ = ["CentresScreen", "DashboardScreen", "DisasterScreen", "LayoutsScreen", "LinkageScreen", "MonitorScreen", "MunicipalitiesScreen", "OnboardingScreen",
           "SettlementScreen", "StagesScreen"]
