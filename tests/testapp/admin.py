from django.contrib import admin

from revy.contrib.django.admin import RevyAdminMixin, RevyModelAdmin
from tests.testapp.models import Author, Post, Record, Ticket


class PostAdmin(RevyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "author")


class TicketAdmin(RevyModelAdmin):
    revy_history_per_page = 100


admin.site.register(Ticket, TicketAdmin)
admin.site.register(Author, RevyModelAdmin)
admin.site.register(Post, PostAdmin)
admin.site.register(Record, RevyModelAdmin)
