# What Label Studio OSS offers no API for, done through its Django models:
# deactivating a user (is_active=False; its tokens are refused with 401).
# Run by package labelstudio with Label Studio's virtualenv's python and the
# instance's DATABASE_NAME and LABEL_STUDIO_BASE_DATA_DIR.
import os
import sys

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'label_studio.core.settings.label_studio')
import label_studio  # noqa: E402

sys.path.insert(0, os.path.dirname(label_studio.__file__))
import django  # noqa: E402

django.setup()
from users.models import User  # noqa: E402

if sys.argv[1] == 'deactivate':
    n = User.objects.filter(email=sys.argv[2]).update(is_active=False)
    if n != 1:
        sys.exit(f'no user {sys.argv[2]}')
else:
    sys.exit(f'unknown command {sys.argv[1]}')
