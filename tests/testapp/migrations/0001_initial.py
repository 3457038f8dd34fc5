
import django.db.models.deletion
import revy.contrib.django.deletion
import tests.testapp.models
import uuid
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='Author',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, unique=True)),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='Category',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=50)),
            ],
        ),
        migrations.CreateModel(
            name='Organization',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=100, unique=True)),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='Place',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='Secret',
            fields=[
                ('code', models.CharField(max_length=20, primary_key=True, serialize=False)),
                ('value', models.CharField(max_length=100)),
                ('hashed', models.CharField(default='', max_length=100)),
            ],
            options={
                'db_table': 'order',
            },
        ),
        migrations.CreateModel(
            name='Tag',
            fields=[
                ('code', models.CharField(max_length=20, primary_key=True, serialize=False)),
            ],
        ),
        migrations.CreateModel(
            name='AuthorProxy',
            fields=[
            ],
            options={
                'proxy': True,
                'indexes': [],
                'constraints': [],
            },
            bases=('testapp.author',),
        ),
        migrations.CreateModel(
            name='Guard',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('author', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='guards', to='testapp.author')),
            ],
        ),
        migrations.CreateModel(
            name='Restaurant',
            fields=[
                ('place_ptr', models.OneToOneField(auto_created=True, on_delete=django.db.models.deletion.CASCADE, parent_link=True, primary_key=True, serialize=False, to='testapp.place')),
                ('serves_pizza', models.BooleanField(default=False)),
            ],
            options={
                'abstract': False,
            },
            bases=('testapp.place',),
        ),
        migrations.CreateModel(
            name='Post',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(max_length=200)),
                ('author', models.ForeignKey(on_delete=revy.contrib.django.deletion.CASCADE, related_name='posts', to='testapp.author')),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='Comment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('text', models.CharField(max_length=200)),
                ('post', models.ForeignKey(on_delete=revy.contrib.django.deletion.CASCADE, related_name='comments', to='testapp.post')),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='Blocker',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('author', models.ForeignKey(on_delete=django.db.models.deletion.RESTRICT, related_name='blockers', to='testapp.author')),
                ('post', models.ForeignKey(on_delete=revy.contrib.django.deletion.CASCADE, related_name='blockers', to='testapp.post')),
            ],
        ),
        migrations.CreateModel(
            name='Review',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('score', models.IntegerField(default=0)),
                ('author', models.ForeignKey(null=True, on_delete=revy.contrib.django.deletion.SET_NULL, related_name='reviews', to='testapp.author')),
                ('editor', models.ForeignKey(null=True, on_delete=revy.contrib.django.deletion.SET(tests.testapp.models.fallback_author), related_name='edited_reviews', to='testapp.author')),
                ('moderator', models.ForeignKey(default=None, null=True, on_delete=revy.contrib.django.deletion.SET_DEFAULT, related_name='moderated_reviews', to='testapp.author')),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='Record',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(max_length=200)),
                ('body', models.TextField(blank=True, default='')),
                ('count', models.IntegerField(default=0)),
                ('big', models.BigIntegerField(blank=True, null=True)),
                ('ratio', models.FloatField(default=0.0)),
                ('price', models.DecimalField(decimal_places=4, default=Decimal('0'), max_digits=12)),
                ('active', models.BooleanField(default=True)),
                ('flag', models.BooleanField(blank=True, null=True)),
                ('day', models.DateField(blank=True, null=True)),
                ('moment', models.DateTimeField(blank=True, null=True)),
                ('clock', models.TimeField(blank=True, null=True)),
                ('span', models.DurationField(blank=True, null=True)),
                ('token', models.UUIDField(default=uuid.uuid4)),
                ('data', models.JSONField(blank=True, null=True)),
                ('blob', models.BinaryField(blank=True, null=True)),
                ('email', models.EmailField(blank=True, default='', max_length=254)),
                ('slug', models.SlugField(blank=True, default='')),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('category', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='testapp.category')),
                ('organization', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='testapp.organization')),
                ('tag', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='testapp.tag')),
            ],
            options={
                'abstract': False,
            },
        ),
    ]
