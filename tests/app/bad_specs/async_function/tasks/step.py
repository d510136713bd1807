async def step(inputs, output):
    pass
