import django.db.models.deletion
import django.utils.timezone
import revy.contrib.django.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
    ] + [
        # Swapped models live in another app, whose migrations come first.
        migrations.swappable_dependency(label)
        for label in (
            settings.REVY_REVISION_MODEL,
            settings.REVY_OBJECT_DELTA_MODEL,
            settings.REVY_ATTRIBUTE_DELTA_MODEL,
        )
        if not label.startswith('revy.')
    ]

    operations = [
        migrations.CreateModel(
            name='Revision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('description', models.TextField(blank=True, default='')),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['-pk'],
                'abstract': False,
                'swappable': 'REVY_REVISION_MODEL',
            },
        ),
        migrations.CreateModel(
            name='ObjectDelta',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('actor_id', models.CharField(blank=True, max_length=255, null=True)),
                ('action', models.PositiveSmallIntegerField()),
                ('description', models.TextField(blank=True, default='')),
                ('content_id', models.CharField(max_length=255)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('actor_content_type', models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='contenttypes.contenttype')),
                ('content_type', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='contenttypes.contenttype')),
                ('revision', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='object_deltas', to=settings.REVY_REVISION_MODEL)),
            ],
            options={
                'ordering': ['-pk'],
                'abstract': False,
                'swappable': 'REVY_OBJECT_DELTA_MODEL',
            },
        ),
        migrations.CreateModel(
            name='AttributeDelta',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('actor_id', models.CharField(blank=True, max_length=255, null=True)),
                ('action', models.PositiveSmallIntegerField()),
                ('description', models.TextField(blank=True, default='')),
                ('content_id', models.CharField(max_length=255)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('field_name', models.CharField(max_length=255)),
                ('old_value', revy.contrib.django.models.StoredJSONField(blank=True, null=True)),
                ('new_value', revy.contrib.django.models.StoredJSONField(blank=True, null=True)),
                ('actor_content_type', models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='contenttypes.contenttype')),
                ('content_type', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='contenttypes.contenttype')),
                ('object_delta', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attribute_deltas', to=settings.REVY_OBJECT_DELTA_MODEL)),
                ('revision', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='attribute_deltas', to=settings.REVY_REVISION_MODEL)),
            ],
            options={
                'ordering': ['-pk'],
                'abstract': False,
                'swappable': 'REVY_ATTRIBUTE_DELTA_MODEL',
            },
        ),
        migrations.AddIndex(
            model_name='objectdelta',
            index=models.Index(fields=['content_type', 'content_id', 'id'], name='revy_object_content_3c81d1_idx'),
        ),
        migrations.AddIndex(
            model_name='objectdelta',
            index=models.Index(fields=['actor_content_type', 'actor_id'], name='revy_object_actor_c_352a35_idx'),
        ),
        migrations.AddIndex(
            model_name='attributedelta',
            index=models.Index(fields=['content_type', 'content_id', 'field_name', 'object_delta'], name='revy_attrib_content_fe1965_idx'),
        ),
    ]
