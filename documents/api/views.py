from rest_framework.views import APIView


class PresignedUrlApi(APIView):
    pass
