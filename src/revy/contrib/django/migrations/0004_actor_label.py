from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("revy", "0002_delta_keys_without_constraints"),
    ]

    operations = [
        migrations.AddField(
            model_name="attributedelta",
            name="actor_label",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="objectdelta",
            name="actor_label",
            field=models.TextField(blank=True, default=""),
        ),
    ]
