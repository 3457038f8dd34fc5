from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('testapp', '0002_shelf_book'),
    ]

    operations = [
        migrations.CreateModel(
            name='Stamped',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=10)),
                ('updated', models.DateTimeField(auto_now=True)),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='ShelfProxy',
            fields=[
            ],
            options={
                'proxy': True,
                'indexes': [],
                'constraints': [],
            },
            bases=('testapp.shelf',),
        ),
    ]
