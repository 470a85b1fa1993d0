"""moto's multi-service WSGI app, for hypercorn to serve.

moto's own server speaks HTTP/1.1 only; the KCL's Kinesis client speaks HTTP/2 cleartext
(h2c, prior knowledge). hypercorn serves the same app over both on one port, so boto3, the
AWS CLI and the KCL's Java SDK all reach S3, SQS, DynamoDB, Kinesis, Secrets Manager,
CloudWatch and SNS at one endpoint.
"""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
