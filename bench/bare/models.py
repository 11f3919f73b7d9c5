"""The two tables an ideal delegation touches (created with ``migrate --run-syncdb``)."""

from django.db import models


class Client(models.Model):
    client_id = models.CharField(max_length=64, unique=True)
    secret = models.CharField(max_length=128)
    algorithm = models.CharField(max_length=8, default="HS256")
    lifetime = models.IntegerField(default=36000)
    allowed = models.JSONField(default=list)

    def __str__(self):
        return self.client_id


class Event(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    type = models.CharField(max_length=4)
    source = models.CharField(max_length=64)
    target = models.CharField(max_length=64)
    user_id = models.CharField(max_length=128)
    jti = models.CharField(max_length=64, db_index=True)

    def __str__(self):
        return self.jti
