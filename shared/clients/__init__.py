"""HTTP clients of the APIs this project calls: VTEX (OMS, Master Data, Catalog), CleverTap and S3."""
