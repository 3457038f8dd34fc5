import uuid
from decimal import Decimal

from django.db import models

from revy import RevyTrackedModel
from revy.contrib.django.models import CASCADE, SET, SET_DEFAULT, SET_NULL


class Organization(RevyTrackedModel):
    """An actor that is not a user, with a UUID primary key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)


class Category(models.Model):
    """Untracked, with an int primary key."""

    name = models.CharField(max_length=50)


class Tag(models.Model):
    """Untracked, with a string primary key."""

    code = models.CharField(max_length=20, primary_key=True)


class Record(RevyTrackedModel):
    """Every built-in field type a user is likely to track."""

    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    count = models.IntegerField(default=0)
    big = models.BigIntegerField(null=True, blank=True)
    ratio = models.FloatField(default=0.0)
    price = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))
    active = models.BooleanField(default=True)
    flag = models.BooleanField(null=True, blank=True)
    day = models.DateField(null=True, blank=True)
    moment = models.DateTimeField(null=True, blank=True)
    clock = models.TimeField(null=True, blank=True)
    span = models.DurationField(null=True, blank=True)
    token = models.UUIDField(default=uuid.uuid4)
    data = models.JSONField(null=True, blank=True)
    blob = models.BinaryField(null=True, blank=True)
    email = models.EmailField(blank=True, default="")
    slug = models.SlugField(blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    category = models.ForeignKey(Category, models.SET_NULL, null=True, blank=True)
    organization = models.ForeignKey(Organization, models.SET_NULL, null=True, blank=True)
    tag = models.ForeignKey(Tag, models.SET_NULL, null=True, blank=True)


class Author(RevyTrackedModel):
    name = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class Post(RevyTrackedModel):
    author = models.ForeignKey(Author, CASCADE, related_name="posts")
    title = models.CharField(max_length=200)


class Comment(RevyTrackedModel):
    post = models.ForeignKey(Post, CASCADE, related_name="comments")
    text = models.CharField(max_length=200)


def fallback_author():
    return Author.objects.get_or_create(name="fallback")[0].pk


class Review(RevyTrackedModel):
    """Foreign keys set by revy's SET handlers when their target goes."""

    author = models.ForeignKey(Author, SET_NULL, null=True, related_name="reviews")
    editor = models.ForeignKey(Author, SET(fallback_author), null=True, related_name="edited_reviews")
    moderator = models.ForeignKey(Author, SET_DEFAULT, null=True, default=None, related_name="moderated_reviews")
    score = models.IntegerField(default=0)


class Guard(models.Model):
    """Untracked: protects an author from deletion."""

    author = models.ForeignKey(Author, models.PROTECT, related_name="guards")


class Secret(RevyTrackedModel):
    """Quoted table name, custom primary key name, an excluded field."""

    code = models.CharField(max_length=20, primary_key=True)
    value = models.CharField(max_length=100)
    hashed = models.CharField(max_length=100, default="")

    revy_exclude = ("hashed",)

    class Meta:
        db_table = "order"


class AuthorProxy(Author):
    class Meta:
        proxy = True


class Place(RevyTrackedModel):
    name = models.CharField(max_length=100)


class Restaurant(Place):
    """Multi-table inheritance."""

    serves_pizza = models.BooleanField(default=False)


class Blocker(models.Model):
    """Untracked: restricts the deletion of a post's author unless the post goes too."""

    author = models.ForeignKey(Author, models.RESTRICT, related_name="blockers")
    post = models.ForeignKey(Post, CASCADE, related_name="blockers")


class Shelf(models.Model):
    """Untracked target of a tracked model's revy SET_NULL."""

    name = models.CharField(max_length=50)


class Book(RevyTrackedModel):
    shelf = models.ForeignKey(Shelf, SET_NULL, null=True, related_name="books")
    title = models.CharField(max_length=100)


class ShelfProxy(Shelf):
    class Meta:
        proxy = True


class Stamped(RevyTrackedModel):
    """A field the database write itself changes."""

    name = models.CharField(max_length=10)
    updated = models.DateTimeField(auto_now=True)


# Living beside other code (issue #12): every field type stored through the field, users' own overrides.


class Money:
    """A value type no JSON encoder knows: its field stores it as text."""

    def __init__(self, amount: Decimal, currency: str):
        self.amount, self.currency = Decimal(amount), currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.amount, self.currency) == (other.amount, other.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class MoneyField(models.CharField):
    """A custom field with ``from_db_value`` and ``to_python``, as Django's docs describe them."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 40)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)

    def to_python(self, value):
        if value is None or isinstance(value, Money):
            return value
        amount, currency = value.split()
        return Money(Decimal(amount), currency)

    def get_prep_value(self, value):
        return None if value is None else str(value)


class Wrapper:
    """A primary key value that is an object, as in Django's own custom_pk tests."""

    def __init__(self, value: str):
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Wrapper) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return self.value


class WrapperField(models.CharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 20)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)

    def to_python(self, value):
        return value if value is None or isinstance(value, Wrapper) else Wrapper(value)

    def get_prep_value(self, value):
        return None if value is None else str(value)


class Attachment(RevyTrackedModel):
    """File, image and binary fields, a custom value field."""

    name = models.CharField(max_length=50)
    document = models.FileField(upload_to="attachments/", blank=True)
    picture = models.ImageField(upload_to="pictures/", blank=True)
    blob = models.BinaryField(null=True, blank=True)
    price = MoneyField(null=True, blank=True)


class Wrapped(RevyTrackedModel):
    code = WrapperField(primary_key=True)
    label = models.CharField(max_length=50, default="")


class Audited(RevyTrackedModel):
    """A tracked model with its own save() and delete(), signatures of its own."""

    name = models.CharField(max_length=50)
    saves = models.IntegerField(default=0)

    def save(self, *args, **kwargs):
        self.saves += 1
        return super().save(*args, **kwargs)

    def delete(self):
        Category.objects.create(name=f"deleted {self.name}")
        return super().delete()


class Appliance(models.Model):
    """Registered with revy.register(): its own delete() takes no arguments, its own save_base() logs."""

    name = models.CharField(max_length=50)
    based = models.IntegerField(default=0)

    def delete(self):
        Category.objects.create(name=f"deleted {self.name}")
        return super().delete()

    def save_base(self, *args, **kwargs):
        self.based += 1
        return super().save_base(*args, **kwargs)


class Ticket(RevyTrackedModel):
    """Choices and a foreign key, as the admin shows them."""

    STATUS_CHOICES = [("open", "Open"), ("closed", "Closed")]

    title = models.CharField("headline", max_length=100)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default="open")
    owner = models.ForeignKey(Author, models.SET_NULL, null=True, blank=True, related_name="tickets")

    def __str__(self) -> str:
        return self.title


class Label(RevyTrackedModel):
    name = models.CharField(max_length=50)


class Article(RevyTrackedModel):
    """Bulk writes, update() and many-to-many relations, auto-created and explicit."""

    title = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    count = models.IntegerField(default=0)
    author = models.ForeignKey(Author, models.SET_NULL, null=True, blank=True, related_name="articles")
    labels = models.ManyToManyField(Label, related_name="articles", blank=True)
    contributors = models.ManyToManyField(
        Author, through="Contribution", related_name="contributed_articles", blank=True
    )


class Contribution(models.Model):
    """An explicit through model, untracked itself."""

    article = models.ForeignKey(Article, models.CASCADE)
    author = models.ForeignKey(Author, models.CASCADE)
    role = models.CharField(max_length=20, default="writer")


class Badge(RevyTrackedModel):
    name = models.CharField(max_length=50)


class Player(RevyTrackedModel):
    """A relation recorded on one side only: its reverse accessor is hidden."""

    name = models.CharField(max_length=50)
    badges = models.ManyToManyField(Badge, related_name="+", blank=True)


class Jotting:
    """Not a model: a mixin of a model's own, with its own ``__setattr__``, listed after RevyTrackedModel."""

    def __setattr__(self, name: str, value: object) -> None:
        self.__dict__.setdefault("jotted", []).append(name)
        super().__setattr__(name, value)


class Jotted(RevyTrackedModel, Jotting):
    name = models.CharField(max_length=50)
