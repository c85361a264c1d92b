"""Every query string the API accepts and every body it returns, as marshmallow
schemas, one module per resource: they validate input, shape output and generate
the OpenAPI document."""
