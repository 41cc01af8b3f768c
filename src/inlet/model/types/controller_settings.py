"""controllerSettings: the settings of the app or device that controls a pump (platform
data/types/settings/controller).

- ``device`` {firmwareVersion, hardwareVersion, manufacturers (1..10, unique, stored sorted), model,
  name, serialNumber, softwareVersion; each text <= 100 chars; at least one of them}.
- ``notifications`` {authorization, alert, criticalAlert, badge, sound, announcement,
  notificationCenter, lockScreen, alertStyle; at least one of them}.
- At least one of ``device`` and ``notifications``.
"""

from __future__ import annotations

from inlet.model.base import DatumType
from inlet.model.fields import Bool, Obj, OneOf
from inlet.model.types.settings_common import DEVICE_FIELD_NAMES, any_of, device_fields

TYPE = "controllerSettings"
AUTHORIZATIONS = ("authorized", "denied", "ephemeral", "notDetermined", "provisional")
ALERT_STYLES = ("alert", "banner", "none")
NOTIFICATION_SWITCHES = (
    "alert",
    "criticalAlert",
    "badge",
    "sound",
    "announcement",
    "notificationCenter",
    "lockScreen",
)

DEVICE = Obj(device_fields(), rules=(any_of(*DEVICE_FIELD_NAMES),))

NOTIFICATIONS = Obj(
    {
        "authorization": OneOf(*AUTHORIZATIONS),
        **{name: Bool() for name in NOTIFICATION_SWITCHES},
        "alertStyle": OneOf(*ALERT_STYLES),
    },
    rules=(any_of("authorization", *NOTIFICATION_SWITCHES, "alertStyle"),),
)

CONTROLLER_SETTINGS = DatumType(
    type=TYPE,
    fields={"device": DEVICE, "notifications": NOTIFICATIONS},
    rules=(any_of("device", "notifications"),),
    description="controller (app) settings",
)

TYPES = [CONTROLLER_SETTINGS]
