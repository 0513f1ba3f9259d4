from django.contrib import admin

from .models import Assignment, QuizAttempt, TrainingSession

admin.site.register(Assignment)
admin.site.register(TrainingSession)
admin.site.register(QuizAttempt)
