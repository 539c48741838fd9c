"""Python algorithm functions the algorithm tests write into module files: ones that hang and that eat
memory until their limits stop them."""

LIMIT_BREAKERS = '''
def hang(ctx):
    import time
    time.sleep(600)

def hog(ctx):
    chunks = []
    while True:
        chunks.append(bytearray(64 << 20))
'''
