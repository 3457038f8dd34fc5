from django.contrib import admin

from revy.contrib.django.admin import RevyAdminMixin, RevyModelAdmin
from tests.testapp.models import Author, Post, Record


class PostAdmin(RevyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "author")


admin.site.register(Author, RevyModelAdmin)
admin.site.register(Post, PostAdmin)
admin.site.register(Record, RevyModelAdmin)
