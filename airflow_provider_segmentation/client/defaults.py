"""Adobe's hosts and the default scopes: imported by the connection form too, so nothing else here."""

DEFAULT_SCOPES = "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext"
DEFAULT_IMS_HOST = "https://ims-na1.adobelogin.com"
DEFAULT_PLATFORM_HOST = "https://platform.adobe.io"
